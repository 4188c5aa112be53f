"""The local environment the operator is developed and tested against: etcd and kube-apiserver
built from their Go modules, a moto server, the operator as a process, and `dbr dev` (a plugin of
the `dbr` command). A separate distribution, so the operator's package and image never carry it."""
