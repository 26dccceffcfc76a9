"""Graph algorithms on a sparse weighted graph: Dijkstra's shortest paths and connected
components by breadth-first search (W4.X3), for the k-NN graph of ``search.knn_graph``.

A graph on n nodes is a sparse (n, n) matrix A: an edge i -> j of weight A_ij >= 0 for every
stored entry (a stored 0 is an edge of length 0, as in ``scipy.sparse.csgraph``).

Dijkstra. d(s) = 0, d(v) = inf otherwise; repeatedly take the unsettled node u of least
d(u) (a binary heap, ``heapq``, with stale entries skipped), settle it and relax its
edges: d(v) <- min(d(v), d(u) + A_uv). With weights >= 0 a settled d(u) is final:
O((n + m) log n) for m edges. pred(v) records the u that last lowered d(v): following
pred back from v gives a shortest path s -> v.

Components. The weakly connected components of a directed graph are the components of
the undirected graph A + A^T. BFS from each node not yet labelled labels everything it
reaches (a FIFO queue, ``collections.deque``) with the next component number.

Sources:
- E. W. Dijkstra, "A note on two problems in connexion with graphs", Numerische
  Mathematik 1 (1959).
- T. H. Cormen, C. E. Leiserson, R. L. Rivest, C. Stein, "Introduction to Algorithms",
  3rd ed. (2009), 22.2 (BFS), 24.3 (Dijkstra).
"""

import heapq
from collections import deque

import numpy as np
import scipy.sparse as sp

from common.exercises import exercise

NO_PREDECESSOR = -9999  # scipy.sparse.csgraph's marker for "no predecessor"


def as_csr(graph):
    """A square CSR matrix with weights >= 0, or a ValueError saying what is wrong."""
    graph = sp.csr_matrix(graph)
    if graph.shape[0] != graph.shape[1]:
        raise ValueError(f"graph must be a square (n, n) matrix, got shape {graph.shape}")
    if graph.nnz and graph.data.min() < 0:
        raise ValueError(f"edge weights must be >= 0 for Dijkstra, got {graph.data.min()}")
    return graph


@exercise("W4.X3", hint="heapq of (d, node); skip a popped node already settled; relax its edges")
def dijkstra(graph, source):
    """(d, pred): shortest path lengths d(v) from ``source`` (inf: unreachable) and each
    node's predecessor on a shortest path (NO_PREDECESSOR for the source and unreached),
    each (n,), for a sparse (n, n) graph with weights >= 0 (``as_csr`` checks it)."""
    graph = as_csr(graph)
    n = graph.shape[0]
    if not 0 <= source < n:
        raise ValueError(f"source must be a node in [0, {n}), got {source}")
    d = np.full(n, np.inf)
    pred = np.full(n, NO_PREDECESSOR)
    settled = np.zeros(n, dtype=bool)
    d[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d_u, u = heapq.heappop(heap)
        if settled[u]:
            continue  # a stale entry: u was settled with a smaller d
        settled[u] = True
        start, stop = graph.indptr[u], graph.indptr[u + 1]
        for v, weight in zip(graph.indices[start:stop], graph.data[start:stop], strict=True):
            if d_u + weight < d[v]:  # relax u -> v
                d[v] = d_u + weight
                pred[v] = u
                heapq.heappush(heap, (d[v], v))
    return d, pred


def path_to(pred, target):
    """The nodes of the shortest path that ends at ``target``, source first (pred walked back)."""
    path = [target]
    while pred[path[-1]] != NO_PREDECESSOR:
        path.append(int(pred[path[-1]]))
    return path[::-1]


def nearest_subgraph(graph, k):
    """The k-NN graph inside a K-NN graph (k <= K): ``search.knn_graph`` stores each row's K
    neighbours nearest first, so the first k of every row are its k nearest."""
    graph = sp.csr_matrix(graph)
    n = graph.shape[0]
    K = graph.nnz // n
    if graph.nnz != n * K or not 1 <= k <= K:
        raise ValueError(f"need a graph of K neighbours per row and 1 <= k <= K={K}, got k={k}")
    keep = (slice(None), slice(0, k))
    data, indices = graph.data.reshape(n, K)[keep], graph.indices.reshape(n, K)[keep]
    return sp.csr_matrix((data.ravel(), indices.ravel(), np.arange(0, n * k + 1, k)), (n, n))


@exercise(
    "W4.X3", hint="make it undirected (A + A.T), then a BFS (collections.deque) per unlabelled node"
)
def connected_components_bfs(graph):
    """(n_components, labels): the weakly connected components of a sparse (n, n) graph,
    labels (n,) numbered 0, 1, ... in the order of their lowest node."""
    graph = as_csr(graph)
    n = graph.shape[0]
    edges = sp.csr_matrix((np.ones(graph.nnz), graph.indices, graph.indptr), shape=(n, n))
    undirected = (edges + edges.T).tocsr()  # i - j if i -> j or j -> i (0-weight edges too)
    labels = np.full(n, -1)
    n_components = 0
    for root in range(n):
        if labels[root] >= 0:
            continue
        labels[root] = n_components
        queue = deque([root])
        while queue:
            u = queue.popleft()
            neighbours = undirected.indices[undirected.indptr[u] : undirected.indptr[u + 1]]
            new = neighbours[labels[neighbours] < 0]
            labels[new] = n_components
            queue.extend(new.tolist())
        n_components += 1
    return n_components, labels


def same_partition(a, b):
    """Whether two labellings split the nodes into the same groups (names aside): a
    bijection between their labels, i.e. as many distinct pairs as labels on each side."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    n_pairs = len(np.unique(np.column_stack([a, b]), axis=0))
    return n_pairs == len(np.unique(a)) == len(np.unique(b))
