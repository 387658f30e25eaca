"""CoreOS updates on one node: the A/B GPT disk, the boot rule, and update_engine."""
