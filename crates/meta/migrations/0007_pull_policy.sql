-- berth metadata schema, version 7: a repository's pull policy (refuse pulls of images whose latest scan has
-- findings at or above a severity, except allowed advisories), a JSON document owned by the registry layer.
-- NULL: no policy.
ALTER TABLE repository_settings ADD COLUMN pull_policy TEXT;
