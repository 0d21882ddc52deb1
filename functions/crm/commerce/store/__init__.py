"""Storage of the commerce records: the only commerce code that talks to DynamoDB, S3, Cognito and SES."""
