"""Upper limits for every size and count a profile can ask for (docs/profiles.md, "Limits").

Each is checked when the profile is read, and the error names the field and the maximum. They
are far above what a real test asks for, and low enough that what they build fits in the memory
of one Locust process (every process builds the same payloads, and a master plus N workers on one
machine build them N + 1 times):

- An oversized body is built once per process and kept for the whole run; while it is built its
  rows exist as Python dicts too, several times the body's bytes for short rows: the 64 MiB cap
  keeps that peak under a gigabyte, where a typo's 10 GB would need tens of times that
  (benchmarks/README.md, "the memory of building an oversized body").
- large_batch and many_features are counts: 100,000 instances or extra fields make a body of a
  few to tens of MB, 100-1000 times what a server's default limit accepts (KServe and FastAPI
  servers behind a proxy usually stop at 1-100 MB), so they already test the limit.
- A clean request holds batch_size x features values and batch_size x max_words words for each
  text feature; a million of either is a body of about 10-20 MB, built per request.
- Lists and names (features, categories, classes, vocabulary, variants, stages, users) are
  bounded so that building the sampler, the encoders and the load plan stays under a second.
"""

from __future__ import annotations

MiB = 1024 * 1024

# oversized variant -> largest `size` (bytes for body_bytes and huge_string, instances for
# large_batch, extra fields for many_features)
MAX_OVERSIZED_SIZE: dict[str, int] = {
    "body_bytes": 64 * MiB,
    "huge_string": 64 * MiB,
    "large_batch": 100_000,
    "many_features": 100_000,
}
MAX_BATCH_SIZE = 10_000  # [target] batch_size: instances per clean request
MAX_VALUES_PER_REQUEST = 1_000_000  # batch_size x features, and batch_size x max_words
MAX_WORDS = 10_000  # a text distribution's min_words and max_words
MAX_FEATURES = 10_000  # [[features]] tables
MAX_CATEGORIES = 10_000  # a category feature's categories
MAX_CLASSES = 10_000  # [output] classes
MAX_VOCABULARY = 100_000  # a text distribution's vocabulary (a real word list fits)
MAX_DRIFT_VARIANTS = 1_000  # [drift.NAME] tables
MAX_LIST = 1_000  # other lists: v2_outputs, headers, gate checks, exclude
MAX_USERS = 1_000_000  # users of a load plan's stage (Locust runs thousands per process)
MAX_NAME = 1_000  # characters of a name (profile, drift variant, stage, class, category)


def size_text(n: int) -> str:
    """A limit as a reader thinks of it: 64 MiB, or 100,000."""
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n:,}"
