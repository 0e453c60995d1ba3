"""Writes a benchmark's table into bench/RESULTS.md between its markers
(<!-- NAME:begin --> and <!-- NAME:end -->), replacing what was there, or
appends it under HEADING the first time.
Usage: write_results.py NAME HEADING TEXT"""
import re
import sys

name, heading, table = sys.argv[1:4]
path = "bench/RESULTS.md"
text = open(path, encoding="utf-8").read()
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
block = f"{begin}\n{table}\n{end}"
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text += f"\n## {heading}\n\n{block}\n"
open(path, "w", encoding="utf-8").write(text)
