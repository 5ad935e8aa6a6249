"""The lifecycle engine every job and operator command shares: the order monitor's
context, sync, settle, protection, flatten, cancelling, halts and the account
guard. Imports the ledger, broker, db, settings, domain and kernel; never a job."""
