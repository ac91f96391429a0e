"""Imported by the trainers' fork server only (the last of child.PRELOAD_MODULES), never
by a worker: limits the preloaded BLAS and OpenMP pools to one thread once, so each job
forked from the server starts with them limited instead of paying threadpoolctl's
60-200 ms search for them before its trainer runs."""

from experiments import child

child._limit_threads()
