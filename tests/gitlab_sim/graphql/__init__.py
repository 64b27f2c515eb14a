"""The simulator's GraphQL API (`POST /api/graphql`), modelled on GitLab's (graphql-ruby) and served with
graphql-core over the same dataset as the REST routes: schema.graphql (the SDL), resolvers.py, complexity.py
(GitLab's limits and scoring), validation.py (graphql-ruby's error shapes), endpoint.py (the controller)."""

from tests.gitlab_sim.graphql.endpoint import PATH, GraphQLEndpoint

__all__ = ["PATH", "GraphQLEndpoint"]
