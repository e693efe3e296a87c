"""Remediations for EC2 and VPC: security groups, EBS, flow logs."""
