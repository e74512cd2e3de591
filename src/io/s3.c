/*
** s3.c - Amazon S3 (and S3-compatible) backend for the io layer.
**
** URIs look like s3://bucket/prefix. Requests are signed with AWS
** Signature Version 4 through libcurl's CURLOPT_AWS_SIGV4. Work in
** progress.
*/
