"""The parts of the city day (#9); ``bench/city_day.py`` is the command and documents the run.

``plan`` the day, the city and its clients; ``services`` PostgreSQL, Redis, the servers and the CPU
meters; ``load`` the load-generating worker processes; ``live`` their /live clients; ``evaluate``
what every client got; ``report`` the figures; ``run`` one city day from setup to report.
"""
