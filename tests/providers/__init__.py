"""Provider adapters against loopback fakes of their APIs."""
