import breadcrumbs


def test_public_api_is_pinned() -> None:
    assert breadcrumbs.__all__ == ["__version__"]
    assert breadcrumbs.__version__.count(".") >= 2
