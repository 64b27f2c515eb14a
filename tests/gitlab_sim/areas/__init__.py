"""The simulator by GitLab area, as the tap is: each module generates its area's records (a `...Model` mixin of
`Dataset`) and serves its endpoints (a `...Routes` mixin of `Routes`), citing the gitlabhq files it models."""
