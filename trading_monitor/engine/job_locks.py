"""The jobs' advisory lock keys: a job holds its own while it runs; the kill switch, an
operator's flatten and the reconcile command take the same keys so that they never act on a
trade at the same time as the job. Here so that none of them imports another job."""

EXECUTOR_LOCK_KEY = 7_301_905_115
ORDER_MONITOR_LOCK_KEY = 7_301_905_116
