"""Corpora, tokenizers, token shards and batching."""
