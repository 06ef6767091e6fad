//! Offline vulnerability database: OSV records indexed by (ecosystem, package) and matched by version.
