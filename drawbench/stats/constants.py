"""Defaults and fixed vocabularies shared by the statistics modules (one home for each)."""

#: Bootstrap rounds: Efron & Tibshirani, "An Introduction to the Bootstrap" (1993), §19.3,
#: recommend about 1,000 rounds for percentile intervals (200 suffice only for standard errors).
DEFAULT_BOOTSTRAP_ROUNDS = 1000
#: Interval level, DESIGN.md ("Default 95% interval").
DEFAULT_CONFIDENCE = 0.95
#: The Elo scale (Elo, "The Rating of Chessplayers", 1978; also Chatbot Arena): a gap of 400
#: points means 10:1 odds, and ratings are centred on 1000.
ELO_SCALE = 400.0
ELO_BASE = 10.0
ELO_CENTER = 1000.0
#: Virtual tie games each model plays against a reference player of strength 1 (rating 1000 before
#: centring) in ``compute_leaderboard``. This project's choice: it keeps ratings finite when a model
#: wins or loses every vote of a bootstrap resample, and moves ratings by well under 1 Elo point
#: once a model has ~100 votes. ``fit_bradley_terry`` defaults to 0 (plain maximum likelihood).
DEFAULT_BT_PRIOR_GAMES = 0.01

PREFERENCE_METHODS = ("bootstrap", "two-stage-bootstrap", "wilson", "normal")
AGREEMENT_LEVELS = ("nominal", "ordinal", "interval")
_VALID_SCORES = (0.0, 0.5, 1.0)
_MAX_CELLS = 4_000_000  # elements per bootstrap chunk (keeps memory near 32 MB)
