module github.com/pakon/pakon

go 1.24
