"""Leaderboard reports: markdown, self-contained HTML and plots."""
