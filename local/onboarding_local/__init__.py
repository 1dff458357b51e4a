"""The embedded local stack (moto + real git daemon + in-process handlers) and its CLI. Never deployed."""
