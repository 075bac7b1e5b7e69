# The letter pages' fixtures, for the headers of their answers.
from tests.letters.conftest import letter_page  # noqa: F401
