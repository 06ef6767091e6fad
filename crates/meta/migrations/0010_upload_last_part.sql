-- berth metadata schema, version 10: upload sessions record how many bytes their last append added, so that
-- ECR's UploadLayerPart can refuse a part that follows one smaller than ECR's minimum part size (only the
-- last part may be smaller). 0: no part recorded yet (also for sessions started before this version).
ALTER TABLE uploads ADD COLUMN last_part INTEGER NOT NULL DEFAULT 0;
