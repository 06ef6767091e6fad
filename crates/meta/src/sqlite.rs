pub struct SqliteMeta;
