"""Modules of the kubelab stand-ins (stdlib only)."""
