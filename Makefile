.PHONY: install test demo ci

install:
	pip install -e ".[test]"

test:
	python -m pytest

demo:
	bmia demo --out bmia-demo

ci:
	bash .ci/run
