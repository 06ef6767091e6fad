//! Image content analysis: layers → merged file view → package inventory → SBOM.
