"""Local deployment helpers: throwaway servers for tests and ``make deploy-check``
(rag.deploy.pg: a PostgreSQL cluster in a temp folder) and the deployment check
(rag.deploy.check over stack, procs, units, nginx and load).

Not handled here: the app itself (rag.ui) and production service management (deploy/ configs).
"""
