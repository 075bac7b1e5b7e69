from tests.letters.conftest import letter_page, write_letters  # noqa: F401 (fixtures)
