package registry

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PausedDatasets lists every dataset whose status is not RUNNING (PAUSING or
// PAUSED, with who holds it and since when), in every environment. It is
// one paginated Scan of the control table, which holds one small record per
// environment, dataset and Redis cluster; the filter runs on DynamoDB's side
// and the projection keeps the pages small.
func (r *Registry) PausedDatasets(ctx context.Context) ([]Dataset, error) {
	var out []Dataset
	p := dynamodb.NewScanPaginator(r.DB, &dynamodb.ScanInput{
		TableName:            aws.String(r.Table),
		FilterExpression:     aws.String("begins_with(sk, :ds) AND #st <> :running"),
		ProjectionExpression: aws.String("envId, datasetId, #st, heldBy, pausedAt, createdAt"),
		ExpressionAttributeNames: map[string]string{
			"#st": "status",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ds": s("DS#"), ":running": s(StatusRunning),
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list paused datasets in %s: %w", r.Table, err)
		}
		var ds []Dataset
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &ds); err != nil {
			return nil, fmt.Errorf("decode paused datasets in %s: %w", r.Table, err)
		}
		out = append(out, ds...)
	}
	return out, nil
}
