/*
 * static.c - the "static" embedder: pre-trained word vectors (GloVe or
 * word2vec text format) converted once to a compact memory-mapped binary,
 * SIF-weighted average of word vectors, L2-normalised.  No network.
 */
