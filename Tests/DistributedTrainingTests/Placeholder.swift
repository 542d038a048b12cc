import XCTest
@testable import DistributedTraining
