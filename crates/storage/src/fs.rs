pub struct FsBlobStore;
