package ebs

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSAPI is the part of the KMS client a copy into another account uses:
// an encrypted snapshot's key is looked up and granted to the destination's
// copy role.
type KMSAPI interface {
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	CreateGrant(context.Context, *kms.CreateGrantInput, ...func(*kms.Options)) (*kms.CreateGrantOutput, error)
}

// copyGrantOperations are what the destination's copy role needs of the
// source key to copy an encrypted snapshot shared with its account and
// re-encrypt the copy under a key of its own
// (docs.aws.amazon.com/ebs/latest/userguide/ebs-modifying-snapshot-permissions.html).
var copyGrantOperations = []kmstypes.GrantOperation{
	kmstypes.GrantOperationDecrypt,
	kmstypes.GrantOperationDescribeKey,
	kmstypes.GrantOperationCreateGrant,
	kmstypes.GrantOperationGenerateDataKeyWithoutPlaintext,
	kmstypes.GrantOperationReEncryptFrom,
}

// CopyGrantName is the name of the grant giving account's copy role the
// use of a key. KMS returns the existing grant when a CreateGrant with the
// same name and parameters is repeated, so retries and later runs never
// add a second grant: one grant per key and destination account.
func CopyGrantName(account string) string { return "lifeboat-ebs-copy-" + account }

// shareKey lets the copy role of account use the KMS key of an encrypted
// snapshot, which the copy there needs. It returns why the snapshot cannot
// be copied into that account ("" when it can): a key AWS manages (the
// aws/ebs default key) cannot be shared, so such a snapshot never can; a
// refused DescribeKey or CreateGrant is reported the same way, once per
// run, not retried.
func (a *EBS) shareKey(ctx context.Context, region string, s types.Snapshot, account string) string {
	keyID := aws.ToString(s.KmsKeyId)
	switch {
	case keyID == "":
		return "encrypted, but EC2 names no KMS key: not copied to account " + account
	case a.KMS == nil || a.CopyRoleARN == nil:
		return "encrypted with " + keyID + ": this worker cannot share KMS keys, not copied to account " + account
	}
	api := a.KMS(region)
	k, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return fmt.Sprintf("describe its KMS key %s: %v", keyID, err)
	}
	if k.KeyMetadata == nil {
		return fmt.Sprintf("describe its KMS key %s: no key metadata", keyID)
	}
	arn := aws.ToString(k.KeyMetadata.Arn)
	if k.KeyMetadata.KeyManager == kmstypes.KeyManagerTypeAws {
		return fmt.Sprintf("encrypted with the AWS managed key %s (aws/ebs), which AWS never shares with another account: not copied to account %s (encrypt the volume with a customer managed key)", arn, account)
	}
	grantee := a.CopyRoleARN(account)
	_, err = api.CreateGrant(ctx, &kms.CreateGrantInput{
		KeyId: aws.String(arn), GranteePrincipal: aws.String(grantee),
		Operations: copyGrantOperations, Name: aws.String(CopyGrantName(account)),
	})
	if err != nil {
		return fmt.Sprintf("grant %s the use of KMS key %s: %v", grantee, arn, err)
	}
	return ""
}
