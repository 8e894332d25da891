"""Store and triage findings: the finding store and evaluation history, mutes, alerts on
new findings, reports and exports."""
