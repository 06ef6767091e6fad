-- berth metadata schema, version 25: keys that sign and verify images (cosign's formats).
--
-- Same conventions as 0001 (INTEGER Unix seconds, BINARY collation).
--
-- A key berth manages has its private key sealed with the server's master key (`sealed_private`, the PKCS#8
-- DER); a trusted key (a client's, registered with `berth signing trust-key`) has only its public key. The
-- public key is the PEM `PUBLIC KEY` text clients use.
CREATE TABLE image_signing_keys (
    name           TEXT    PRIMARY KEY,
    public_key     TEXT    NOT NULL,
    sealed_private BLOB,
    created_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
