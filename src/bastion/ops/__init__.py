"""Operations: health probes, metrics, maintenance mode, circuit breakers."""

from bastion.ops.breaker import CircuitBreaker, CircuitOpen
from bastion.ops.maintenance import Maintenance, MaintenanceMode
from bastion.ops.metrics import Metrics

__all__ = ["CircuitBreaker", "CircuitOpen", "Maintenance", "MaintenanceMode", "Metrics"]
