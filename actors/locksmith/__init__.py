"""locksmith: reboot coordination for CoreOS updates (the semaphore in etcd, strategies, windows)."""
