"""InsightsService: progress monitoring, learning queries and retention over the
orchestrator's tables, served by the orchestrator process."""
