"""Reading a Prometheus text exposition the way a scraper does (prometheus_client's parser)."""

from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, frozenset[tuple[str, str]]]


def samples(text: str) -> dict[Series, float]:
    """Every sample by name and labels; fails, like a scraper would, on a malformed document."""
    found: dict[Series, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[Series, float], name: str, **labels: str) -> float:
    """The sample with exactly these labels; 0 when the series does not exist (yet)."""
    return found.get((name, frozenset(labels.items())), 0.0)


def total(found: dict[Series, float], name: str, **labels: str) -> float:
    """The sum over the series of `name` whose labels include these (others free)."""
    wanted = set(labels.items())
    return sum(v for (n, series), v in found.items() if n == name and wanted <= series)


def label_values(found: dict[Series, float]) -> set[str]:
    return {v for _, series in found for _, v in series}
