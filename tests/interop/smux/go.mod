module riptide/tests/interop/smux

go 1.22

require (
	github.com/golang/snappy v1.0.0
	github.com/xtaci/smux v1.5.58
)
