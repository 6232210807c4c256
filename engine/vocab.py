"""Closed vocabularies shared by personas, the house, the catalog and the judge.

They are closed so that a typo in a persona file is a validation error, not a
silently unmatched preference.
"""

# Activity tags: what the user is doing, in the judge's and the policy's terms.
ACTIVITY_TAGS: tuple[str, ...] = (
    "sleep", "hygiene", "meal", "cooking", "work", "study", "exercise", "leisure",
    "social", "chores", "screen", "reading", "music", "outdoor", "rest", "creative",
)

# Recommendation topics in the catalog.
TOPICS: tuple[str, ...] = (
    "fitness", "cooking", "nutrition", "music", "books", "films", "news", "finance",
    "productivity", "mindfulness", "sleep", "social", "family", "gardening", "travel",
    "learning", "technology", "games", "art", "nature", "home", "fashion",
)

# How a recommendation is worded.
TONES: tuple[str, ...] = ("warm", "concise", "playful", "formal", "gentle", "enthusiastic")

# Sensitive kinds of content; a persona's boundaries name the ones it refuses.
FLAGS: tuple[str, ...] = (
    "spending", "health-advice", "personal-question", "social-pressure", "screen-time",
    "alcohol", "caffeine",
)

BIG_FIVE: tuple[str, ...] = (
    "extraversion", "agreeableness", "conscientiousness", "openness", "neuroticism",
)

DEFAULT_CRITERIA: tuple[str, ...] = ("preference", "timing", "frequency", "communication")
OPTIONAL_CRITERIA: tuple[str, ...] = ("novelty",)
