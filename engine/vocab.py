"""Closed vocabularies shared by personas, the house, the catalog and the judge.

They are closed so that a typo in a persona file is a validation error, not a
silently unmatched preference.
"""

import re

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

# The rubric's criteria: name -> (one-letter mark, label for a person rating). The first four
# are the paper's rubric (and a persona's first-person rubric has one text for each).
CRITERIA: dict[str, tuple[str, str]] = {
    "preference": ("P", "Preference: fits what I like"),
    "timing": ("T", "Timing: a good moment"),
    "frequency": ("F", "Frequency: not too often, not too rare"),
    "communication": ("C", "Communication & safety: tone and boundaries"),
    "novelty": ("N", "Novelty: not the same topic again"),
}
DEFAULT_CRITERIA: tuple[str, ...] = tuple(CRITERIA)[:4]
OPTIONAL_CRITERIA: tuple[str, ...] = tuple(CRITERIA)[4:]

# Words that mark a free-text recommendation as touching a sensitive kind of content
# (catalog items carry their flags; free text is checked against these, whole words).
FLAG_KEYWORDS: dict[str, tuple[str, ...]] = {
    "spending": ("buy", "order", "purchase", "shop", "shopping", "subscribe", "subscription", "sale", "deal"),
    "health-advice": ("diagnosis", "symptom", "symptoms", "medication", "medicine", "dose", "supplement", "diet"),
    "personal-question": ("how are you feeling", "tell me about", "why do you", "are you okay"),
    "social-pressure": ("everyone is", "don't miss out", "you should call", "you owe"),
    "screen-time": ("scroll", "binge", "stream", "watch another", "video", "phone"),
    "alcohol": ("wine", "beer", "cocktail", "whisky", "whiskey", "vodka", "gin", "drink"),
    "caffeine": ("coffee", "espresso", "latte", "caffeine", "energy drink"),
}


def flags_in_text(text: str) -> frozenset[str]:
    """The sensitive kinds a free text touches, by FLAG_KEYWORDS (case-insensitive, whole words)."""
    words = " " + " ".join(re.findall(r"[a-z']+", text.lower())) + " "
    return frozenset(flag for flag, keys in FLAG_KEYWORDS.items() if any(f" {k} " in words for k in keys))
