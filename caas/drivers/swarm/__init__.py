"""Docker Swarm mode (coe ``swarm-mode``) on Nova servers or bare metal."""
