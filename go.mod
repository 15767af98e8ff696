module github.com/dirbridge/dirbridge

go 1.26
