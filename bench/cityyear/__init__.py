"""The parts of the city year; ``bench/city_year.py`` is the command and documents the run.

``simulate`` one hall-day as a discrete-event simulation; ``loaders`` the rows of a city-day and the
bulk loaders (SQLite, PostgreSQL COPY); ``city`` the city's config, its opening days and load, every
day generated and closed by the end-of-day job; ``timings`` the reports timed from the rollups and
from the raw tickets; ``engine`` one engine end to end (build, reuse, drop); ``summary`` the table.
"""
