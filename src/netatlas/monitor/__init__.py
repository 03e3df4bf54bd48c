"""Continuous monitoring: monitors (stored scan definitions with schedules), change
detection between runs into events, triggers, notifiers with stored deliveries, and the
daemon that runs what is due."""

from netatlas.monitor.model import Monitor, format_duration, parse_duration

__all__ = ["Monitor", "format_duration", "parse_duration"]
