"""A PBKDF2 hasher with 1,000 iterations, for the test project only.

Django hashes with 1,000,000 iterations, and also when a password is wrong (to equalise
timing), which costs seconds of CPU per attempt on a loaded 2-core test machine. The
code paths are the real ones; only the work factor is small.
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256"
    iterations = 1000
