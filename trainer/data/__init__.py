"""The data path of training: a user's data file in, padded model batches out.

`samples` reads the file, `validation` checks every sample from file headers, `audio_codes`
encodes clips once into the cache, `sequences` builds the Higgs chat-template example with its
labels, `preparation` runs those steps over a data set, `setup` does it for a training run's
flags on every rank, `batching` pads examples into batches, and `tokenize_data` is
`stratlog tokenize` (the same encoding, up front). See trainer/README.md.
"""
