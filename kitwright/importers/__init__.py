"""Spreadsheet intake: reading CSV and XLSX files row by row (docs/importers.md).

A leaf package like `config`: it reads bytes and names problems by row and column, and knows
nothing of the database. The services turn its rows into changes.
"""
