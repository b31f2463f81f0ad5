"""A retrieval memory of (key, value) items behind one facade, for the kNN memory layer
(Memorizing Transformers, Wu et al., arXiv 2203.08913) and for corpus memories saved beside a
checkpoint.

`qtk.memory.index.Memory` stores keys, values, positions and document ids as torch tensors and answers top-k
inner-product searches with one of two backends:

- `exact`: torch matmul + top-k over every key (qtk.memory.exact), the reference;
- `hnsw`: an hnswlib graph over the same keys (qtk.memory.hnsw), approximate, for large memories.

`auto` starts exact and builds the graph once the memory reaches `auto_threshold` items (when
hnswlib is installed). A `capacity` evicts the oldest items FIFO: when the count passes it, the
oldest `evict_fraction` of the capacity is dropped and the graph rebuilt from the survivors. HNSW
deletion (`mark_deleted`) is not used: deleted nodes stay in the graph, slowing searches and
lowering recall as they pile up. Items are detached on the way in; a memory is never part of
autograd.
"""
