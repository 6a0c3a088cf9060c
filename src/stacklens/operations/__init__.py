"""Operations on a whole hub: consistent backups of a running hub, and restores."""
